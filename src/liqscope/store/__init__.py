"""Storage interface, the embedded SQLite backend, and ``open_store`` to choose one."""

from liqscope.store.backends import is_server_url, open_store

__all__ = ["is_server_url", "open_store"]
