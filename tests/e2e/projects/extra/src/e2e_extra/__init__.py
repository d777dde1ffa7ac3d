NAME = 'e2e-extra'
