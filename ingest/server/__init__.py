"""igsc's own TAXII 2.1 server: partners push STIX 2.1 bundles and read the shared feed.

Entry points: ingest.server.app.create_app / serve, and ingest.server.auth.hash_secret /
hash_token for the credentials partners are configured with. Nothing is imported here, so
tools that only hash a password do not load the web stack.
"""
