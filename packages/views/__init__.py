"""Views of the packages app, one module per audience: `index` (simple API, JSON API, files:
what installers read), `pages` (the public website), `manage` (owners' pages)."""
