"""Helpers for Isthmus system tests: network namespaces, processes, daemons."""
