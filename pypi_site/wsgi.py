from __future__ import annotations

import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pypi_site.settings")
application = get_wsgi_application()
# Import every app's URLs and views now, as the worker starts, rather than in its first
# request: that import is most of a second, which the first reader after each restart paid.
import_module(settings.ROOT_URLCONF)
