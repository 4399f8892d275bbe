"""Placement: filters drop nodes that cannot take a task, a scorer ranks the rest (pure, in
`filters`, `scorers`, `pipeline`), and `reservation` claims tasks and reserves capacity atomically.
"""
