"""Certificate generation for a closed session (SPEC §7 "After generation").

Closing a session enqueues `generate_certificates(cert_session_id)`. Building the PDFs,
the bundle and the trainers' accounts is the Certificates work that follows; until it
lands the job fails loudly rather than pretending, and RQ keeps it for a retry.
"""


def generate_certificates(cert_session_id: int) -> None:
    raise NotImplementedError(
        f"Génération des certificats de la session {cert_session_id} : pas encore disponible."
    )
