"""Faithful partner simulators: real aiohttp servers on 127.0.0.1 (and an SFTP server for the
wholesale distributor) with the partner's auth, rate limits, payloads, error shapes and webhook
signing, plus the `/_sim/*` control surface of API.md and shoppers for the demo."""
