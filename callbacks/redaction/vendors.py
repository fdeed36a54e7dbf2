"""Vendor tokens recognisable by a published prefix: `SG.`, `hf_`, `npm_`, `glpat-`, `dop_v1_`...

One row per vendor: the kind its placeholder names, the prefixes (matched in exact case), and
what follows a prefix. A token starts a word (or follows an escape such as the `\\n` of a
JSON-encoded text) and ends where its alphabet ends, so `task-`, `msg.` or `key-value` stay.
The prefixes were checked against the vendors' documentation and public secret-scanner rule
lists (gitleaks, 2ms); the patterns are ours and deliberately lenient about length.
"""

from __future__ import annotations

import re

from .rules import ShapeRule

__all__ = ["VENDOR_TOKENS", "WORD_START", "vendor_rules"]

# Where a token may start: not inside a longer word, except after an escape such as the `\n` of
# a JSON-encoded text (a tool result).
AFTER_ESCAPE = r"(?<=\\[nrt])"
WORD_START = rf"(?:(?<![A-Za-z0-9_.-])|{AFTER_ESCAPE})"

_B64URL = "[A-Za-z0-9_-]"
_ALNUM = "[A-Za-z0-9]"
_HEX = "[a-f0-9]"

VENDOR_TOKENS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("sendgrid_api_key", ("SG.",), rf"{_B64URL}{{16,32}}\.{_B64URL}{{16,64}}"),
    ("huggingface_token", ("hf_", "api_org_"), rf"{_ALNUM}{{30,}}"),
    ("npm_token", ("npm_",), rf"{_ALNUM}{{36,}}"),
    ("pypi_token", ("pypi-",), rf"{_B64URL}{{50,}}"),
    (
        "gitlab_token",
        ("glpat-", "glptt-", "gldt-", "glrt-", "glcbt-"),
        rf"{_B64URL}{{20,}}(?:\.{_ALNUM}{{2,12}})?",
    ),
    ("digitalocean_token", ("dop_v1_", "doo_v1_", "dor_v1_"), rf"{_HEX}{{64}}"),
    ("shopify_token", ("shpat_", "shpca_", "shppa_", "shpss_"), "[a-fA-F0-9]{32}"),
    ("mailgun_api_key", ("key-",), rf"{_HEX}{{32}}"),
    ("postman_api_key", ("PMAK-",), rf"{_HEX}{{24}}-{_HEX}{{34}}"),
    ("linear_api_key", ("lin_api_", "lin_oauth_"), rf"{_ALNUM}{{32,}}"),
    ("grafana_token", ("glc_", "glsa_"), r"[A-Za-z0-9_+/=-]{32,}"),
    ("sentry_token", ("sntrys_", "sntryu_"), r"[A-Za-z0-9_+/=]{32,}"),
    ("age_secret_key", ("AGE-SECRET-KEY-1",), "[0-9A-Z]{58}"),
    ("databricks_token", ("dapi",), rf"{_HEX}{{32}}(?:-[0-9])?"),
    ("vault_token", ("hvs.", "hvb."), rf"{_B64URL}{{24,}}"),
    ("stripe_webhook_secret", ("whsec_",), r"[A-Za-z0-9+/=]{24,}"),
    ("google_oauth_token", ("ya29.",), rf"{_B64URL}{{30,}}"),
    ("google_client_secret", ("GOCSPX-",), rf"{_B64URL}{{24,}}"),
    ("groq_api_key", ("gsk_",), rf"{_ALNUM}{{40,}}"),
    ("replicate_token", ("r8_",), rf"{_ALNUM}{{30,}}"),
    ("perplexity_api_key", ("pplx-",), rf"{_ALNUM}{{40,}}"),
    ("xai_api_key", ("xai-",), rf"{_ALNUM}{{60,}}"),
    ("docker_hub_token", ("dckr_pat_", "dckr_oat_"), rf"{_B64URL}{{24,}}"),
    ("newrelic_key", ("NRAK-",), r"[A-Za-z0-9-]{19,}"),
    ("heroku_api_key", ("HRKU-",), rf"{_B64URL}{{30,}}"),
    ("alibaba_access_key_id", ("LTAI",), rf"{_ALNUM}{{20}}"),
    ("slack_token", ("xapp-",), r"[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]{32,}"),
    ("onepassword_token", ("ops_eyJ",), r"[A-Za-z0-9+/=]{100,}"),
)


def vendor_rules() -> list[ShapeRule]:
    """One rule per row: the whole token, prefix included, is the secret."""
    return [
        ShapeRule(
            kind,
            prefixes,
            re.compile(
                WORD_START
                + "(?:"
                + "|".join(re.escape(prefix) for prefix in prefixes)
                + f")(?:{body})(?![A-Za-z0-9_-])"
            ),
            gated=True,
        )
        for kind, prefixes, body in VENDOR_TOKENS
    ]
