"""MESH, the NHS message exchange Send Document travels over: the target's [mesh] section, the HMAC
authorisation token, an evidence-recording MESH API client, and NHS's mesh-sandbox run on loopback."""
