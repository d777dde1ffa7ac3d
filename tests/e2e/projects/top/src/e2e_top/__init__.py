NAME = 'e2e-top'
