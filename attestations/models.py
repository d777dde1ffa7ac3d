"""PEP 740 provenance: the verified attestations of one File and who published it.

Stored once, at upload, after `attestations.verify` accepted every attestation against the
file's bytes and the trusted publisher's identity; served unchanged by the Integrity API.
"""

from __future__ import annotations

from django.db import models

from packages.models import File


class Provenance(models.Model):
    file = models.OneToOneField(File, on_delete=models.CASCADE, related_name="provenance")
    # The publisher identity the attestations were verified against (PEP 740's `publisher`),
    # kept in columns too so pages and admin need not parse the body.
    publisher_kind = models.CharField(max_length=50)
    repository = models.CharField(max_length=300)
    workflow = models.CharField(max_length=300)
    environment = models.CharField(max_length=300, blank=True)
    # One `https://...` predicate type per attestation, in the order uploaded.
    predicate_types = models.JSONField(default=list)
    # The PEP 740 provenance object, exactly as the Integrity API serves it.
    body = models.TextField(editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "provenance"

    def __str__(self) -> str:
        return f"{self.file.filename} from {self.publisher_kind} {self.repository}"
