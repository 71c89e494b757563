"""The gpc-assure pytest plugin: one module per concern, registered together.

- requirements: markers, test metadata (title, requirement IDs, flow, role), catalogue checks
- target: the system under test (a target file, or the built-in reference system), preflight
- evidence: the evidence pack folder and the exchange files
- checks: the `verify` fixture that runs checks and fails a test on its findings
- permissions: the Patient Facing User Permissions client (`pfs`), test patients, version gating
- messaging: Send Document over MESH (mesh-sandbox and the reference sender/receiver, or a real MESH)
- consumer: the provider simulator and driver for consumer suites (the reference consumer, a command, a person)
- report: outcomes, per-requirement verdicts, results.json
- outputs: report.html, scal.xlsx, junit.xml, allure-results, requirements.csv, manifest.json;
  accepted deviations, patient masking
- console: the progress display and summary table of `gpc-assure run`
"""

pytest_plugins = [
    "gpc_assure.plugins.requirements",
    "gpc_assure.plugins.target",
    "gpc_assure.plugins.evidence",
    "gpc_assure.plugins.checks",
    "gpc_assure.plugins.permissions",
    "gpc_assure.plugins.messaging",
    "gpc_assure.plugins.consumer",
    "gpc_assure.plugins.report",
    "gpc_assure.plugins.outputs",
    "gpc_assure.plugins.console",
]
