"""Synthetic listening: a shared fake music world and plays that look like real people's.

The demo, the tests and the benchmarks need many users' histories without a
Spotify account. Each user gets a persona from (user_id, seed): favourite
artists that drift week to week, a daily rhythm in the user's own timezone,
skips, songs on repeat, weekly discoveries and, for some, podcasts.
"""

from weekly_wrapped.sources.synthetic.catalog import (
    Catalog,
    CatalogAlbum,
    CatalogArtist,
    CatalogShow,
    build_catalog,
)
from weekly_wrapped.sources.synthetic.listener import generate_plays

__all__ = [
    "Catalog",
    "CatalogAlbum",
    "CatalogArtist",
    "CatalogShow",
    "build_catalog",
    "generate_plays",
]
