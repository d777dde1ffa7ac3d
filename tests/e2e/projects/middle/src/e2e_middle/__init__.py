NAME = 'e2e_middle'
