"""GP Connect (Patient Facing) User Permissions: the facts both the suite and the reference share.

`levels` holds the access levels and what each spec version covers; `openapi` loads our own
OpenAPI descriptions of the two versions and validates bodies against them.
"""
