NAME = 'e2e.base-lib'
