"""Test helpers that ship with dataigm (used by its own tests and by users' tests).

`dataigm.testing.hub_server.LocalHubServer` is a small Hugging Face Hub HTTP server on 127.0.0.1,
so the real clients (`huggingface_hub`, `datasets`, `timm`) can be exercised without any network.
"""

from dataigm.testing.hub_server import FaultRule, LocalHubServer, RequestRecord, TokenInfo

__all__ = ["FaultRule", "LocalHubServer", "RequestRecord", "TokenInfo"]
