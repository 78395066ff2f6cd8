"""The engine: sync items, jobs, retries, locks, circuit breakers, dead letters. It knows no entity."""
