"""A small simulated core-banking backend for the Northwind Bank demo assistant.

The assistant's actions query it the way they would query a real core-banking API: customers,
cards, card payments and cash withdrawals, transfers, top-ups and refunds. Nothing here is
imported eagerly, so importing the package has no side effects.
"""
