"""GP Connect Send Document: ITK3 message and response bundles, the spec versions, and the suite's side
of a MESH conversation (sending, collecting and correlating)."""
