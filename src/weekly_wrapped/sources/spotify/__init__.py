"""Spotify: OAuth login, the recently-played poller and enrichment (DESIGN §8).

- `client`: the one door to Spotify (over requests), with the app's bounded retry policy;
- `oauth` and `login`: authorization code with PKCE and `state`, a loopback callback;
- `tokens`: tokens encrypted at rest with Fernet;
- `poller`: recently played → PlayEvents → the bus, with cursors and coverage gaps;
- `enrich`: names → ids, album art, release dates and genres, within a request budget.
"""
