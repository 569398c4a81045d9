"""Measuring tools, kept out of the product's runtime path: retrieval quality (`retrieval`), answer
quality (`answers`) and speed (`bench`), with their statistics in one place (`stats`).

Only the CLI imports this package, lazily, inside `mcdewey eval` and `mcdewey bench`.
"""
