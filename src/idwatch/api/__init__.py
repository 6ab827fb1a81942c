"""The analyst console and REST API (``idwatch serve``): FastAPI over the store, with tokens.

``users`` keeps the API tokens (hashed), ``security`` the sessions, CSRF, login rate limit and
headers, ``data`` reads the analysis results, ``routes`` the JSON API, ``pages`` the console.
"""
