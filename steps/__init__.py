"""Thin command lines, one per MLproject entry point: parse, log, call the hwr library."""
