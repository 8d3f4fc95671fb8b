"""The weekly schedule of `wrapped serve`: polls every few minutes, each user's recap on Monday.

`due` decides what is due from the clock and the ledger alone (a pure function);
`jobs` does it under a database lock; `service` runs both on APScheduler.
"""
