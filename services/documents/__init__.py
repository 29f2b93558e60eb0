"""Documents: evidence files in object storage (S3 through the minio SDK) and their records.

Uploads are streamed to the bucket after the type is sniffed from the bytes and the file is inspected
(filecheck, pdfcheck, imagecheck); each upload is a new version under a key with no personal data; after
the commit finance gets `finance.check_expense_document` or `finance.register_attestation` through the
outbox, and its verdicts (`documents.set_review_status`) set the review status and history (review).
Also: presigned downloads recorded per user, monthly packages (packages), retention with audited
deletion (retention), and the sweep that repairs uploads a crash left half-done (sweep).
"""
