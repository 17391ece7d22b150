"""Thin handlers: parse, call one data-access function, respond."""
