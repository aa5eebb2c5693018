"""One module per view: each renders core objects into a response body."""
