"""Custom actions of the Northwind Bank assistant (a rasa-sdk action server package).

rasa-sdk imports every module in this package at start-up and registers each concrete
``Action`` subclass, so modules here must be cheap and side-effect free to import: no engine,
no environment reads, no I/O until an action runs.
"""
