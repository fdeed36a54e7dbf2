"""AWS Bedrock, asked through boto3 with the credentials and endpoint the proxy uses."""

from __future__ import annotations

import boto3

from .. import bedrock_probe
from ..compose import PROXY_SERVICE
from ..errors import KitError
from ..litellm_config import PROFILE_REGIONS, prefix_serves
from ..settings import mask
from .context import PYTHON, DoctorContext
from .findings import Finding, Verdicts
from .litellm import validated_config
from .registry import CheckGroup

group = CheckGroup("bedrock", "AWS Bedrock")

# botocore's names for where credentials came from, in the words of the kit's settings.
SOURCES = {
    "explicit": "AWS_ACCESS_KEY_ID in .env or the environment",
    "env": "the environment",
    "shared-credentials-file": "~/.aws/credentials",
    "sso": "AWS SSO (aws sso login)",
    "assume-role": "an assumed role",
    "iam-role": "the instance role",
    "container-role": "the container role",
}


def session(ctx: DoctorContext) -> boto3.Session:
    return ctx.remember("aws.session", lambda: bedrock_probe.session_for(ctx.settings))


def identity(ctx: DoctorContext) -> bedrock_probe.Identity:
    return ctx.remember("aws.identity", lambda: bedrock_probe.caller_identity(session(ctx)))


def _region(ctx: DoctorContext) -> str:
    return ctx.settings.get("AWS_REGION") or session(ctx).region_name or ""


@group.check(
    "bedrock.credentials",
    summary="boto3's credential chain finds AWS credentials (keys in `.env`, a profile, SSO, "
    "or an instance role)",
    remedy="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in `.env`, or AWS_PROFILE "
    "(then `aws sso login`)",
)
def credentials(ctx: DoctorContext, result: Verdicts) -> Finding:
    try:
        source = bedrock_probe.credential_source(session(ctx))
    except KitError as error:
        return result.fail(error.message, error.fix or bedrock_probe.CREDENTIALS_FIX)
    key_id = session(ctx).get_credentials().access_key
    shown = SOURCES.get(source, source)
    return result.ok(f"credentials from {shown} ({key_id[:4]}…{key_id[-4:]})")


@group.check(
    "bedrock.identity",
    summary="AWS STS `GetCallerIdentity` accepts the credentials",
    remedy="copy AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the same access key, or "
    "refresh temporary credentials; `Signature expired` is the clock, not the key (see "
    "bedrock.clock_skew)",
    requires=("bedrock.credentials",),
)
def caller(ctx: DoctorContext, result: Verdicts) -> Finding:
    try:
        who = identity(ctx)
    except bedrock_probe.CredentialsExpired:
        return result.skip("the session token has expired (see bedrock.session_token)")
    except bedrock_probe.ClockSkewed:
        return result.skip(
            "AWS refused the request's time, so the credentials were not checked "
            "(see bedrock.clock_skew)"
        )
    except KitError as error:
        return result.fail(error.message, error.fix or bedrock_probe.CREDENTIALS_FIX)
    return result.ok(f"account {who.account} as {who.arn}")


@group.check(
    "bedrock.session_token",
    summary="temporary credentials (AWS_SESSION_TOKEN, SSO, a role) have not expired",
    remedy="`aws sso login`, or put a fresh key pair and AWS_SESSION_TOKEN in `.env`",
    requires=("bedrock.credentials",),
)
def session_token(ctx: DoctorContext, result: Verdicts) -> Finding:
    try:
        identity(ctx)
    except bedrock_probe.CredentialsExpired as error:
        return result.fail(error.message, error.fix or bedrock_probe.CREDENTIALS_FIX)
    except KitError as error:
        return result.skip(f"STS could not tell ({error.message})")
    token = session(ctx).get_credentials().token
    if not token:
        return result.ok("long-term keys: no session token to expire")
    return result.ok(f"the session token ({mask(token)}) is still valid")


@group.check(
    "bedrock.region",
    summary="AWS_REGION is set and BEDROCK_PROFILE_PREFIX can be called from it",
    remedy="set AWS_REGION and a fitting BEDROCK_PROFILE_PREFIX in `.env` (us for us-*, eu "
    "for eu-*, apac for ap-*, global anywhere)",
)
def region(ctx: DoctorContext, result: Verdicts) -> Finding:
    name = _region(ctx)
    prefix = ctx.settings.get("BEDROCK_PROFILE_PREFIX", "")
    if not name:
        return result.fail(
            "no AWS region is set", f"In {ctx.options.env_path} set AWS_REGION=us-east-1"
        )
    if prefix not in PROFILE_REGIONS or not prefix_serves(prefix, name):
        fitting = [p for p in PROFILE_REGIONS if prefix_serves(p, name)] or ["global"]
        return result.fail(
            f"BEDROCK_PROFILE_PREFIX={prefix} cannot be called from AWS_REGION={name}",
            f"In {ctx.options.env_path} set BEDROCK_PROFILE_PREFIX={fitting[0]}",
        )
    return result.ok(f"region {name}, inference profiles {prefix}.*")


@group.check(
    "bedrock.clock_skew",
    summary="this machine's clock is within a minute of AWS's, from STS's `Date` header or "
    "from AWS's refusal itself: SigV4 rejects requests signed more than 5 minutes off, as "
    '`SignatureDoesNotMatch`/`InvalidSignatureException` "Signature expired", '
    "`RequestExpired` or `RequestTimeTooSkewed` (a clock fault that looks like a wrong key)",
    remedy="synchronise the clock: `sudo timedatectl set-ntp true`; the AWS keys are fine",
    requires=("bedrock.credentials",),
)
def clock_skew(ctx: DoctorContext, result: Verdicts) -> Finding:
    try:
        skew = identity(ctx).clock_skew_seconds
    except bedrock_probe.ClockSkewed as refused:
        return result.fail(refused.message, bedrock_probe.CLOCK_FIX)
    except KitError as error:
        return result.skip(f"STS did not answer ({error.message})")
    if skew is None:
        return result.skip("STS's answer carried no Date header to compare with")
    shown = bedrock_probe.skew_text(skew)
    if abs(skew) >= bedrock_probe.SKEW_FAIL_SECONDS:
        return result.fail(f"{shown}: AWS rejects every signed request", bedrock_probe.CLOCK_FIX)
    if abs(skew) >= bedrock_probe.SKEW_WARN_SECONDS:
        return result.warn(shown, bedrock_probe.CLOCK_FIX)
    return result.ok(f"clock within {abs(skew):.0f} s of AWS")


@group.check(
    "bedrock.model_access",
    summary="each configured model answers the smallest possible call (Converse, "
    "maxTokens=1); skipped with `--no-bedrock-calls`",
    remedy="grant model access in the Bedrock console (Model access) for the region and allow "
    "bedrock:InvokeModel* in IAM; a signature error means a wrong AWS_SECRET_ACCESS_KEY "
    '("Signature expired": the clock, see bedrock.clock_skew)',
    requires=("bedrock.credentials", "bedrock.region", "litellm.config"),
)
def model_access(ctx: DoctorContext, result: Verdicts) -> Finding:
    if not ctx.options.bedrock_calls:
        return result.skip("--no-bedrock-calls: no model was called")
    model_ids = list(dict.fromkeys(route.model_id for route in validated_config(ctx).routes))
    endpoint = ctx.settings.get("AWS_BEDROCK_RUNTIME_ENDPOINT") or None
    try:
        outcomes = [
            bedrock_probe.probe_model(session(ctx), model_id, endpoint_url=endpoint)
            for model_id in model_ids
        ]
    except KitError as error:
        return result.fail(error.message, error.fix or bedrock_probe.CREDENTIALS_FIX)
    refused = [o for o in outcomes if not o.granted]
    if refused:
        shown = "; ".join(f"{o.model_id}: {o.code}: {o.message}" for o in refused)
        return result.fail(
            f"Bedrock refuses {len(refused)} of {len(outcomes)} models: {shown}",
            " ".join(
                dict.fromkeys(bedrock_probe.model_access_fix(o, _region(ctx)) for o in refused)
            ),
        )
    return result.ok(f"all {len(outcomes)} models answer ({', '.join(model_ids)})")


@group.check(
    "bedrock.imds",
    summary="on EC2 without keys: the proxy container reaches the instance role (IMDSv2 "
    "needs a hop limit of 2 from a container)",
    remedy="`aws ec2 modify-instance-metadata-options --instance-id ID "
    "--http-put-response-hop-limit 2 --http-tokens required`",
    docker_only=True,
)
def imds(ctx: DoctorContext, result: Verdicts) -> Finding:
    instance_id = bedrock_probe.ec2_instance_id()
    if instance_id is None:
        return result.skip("not an EC2 instance")
    if bedrock_probe.uses_static_keys(ctx.settings) or ctx.settings.get("AWS_PROFILE"):
        return result.skip("credentials come from .env or a profile, not the instance role")
    try:
        output = ctx.project.exec(PROXY_SERVICE, [PYTHON, "-c", bedrock_probe.IMDS_TOKEN_PROBE])
    except KitError as error:
        return result.skip(f"cannot run a probe in the {PROXY_SERVICE} container: {error.message}")
    if output.strip().startswith("reachable"):
        return result.ok("the proxy container reaches the instance metadata service")
    return result.fail(
        "the proxy container cannot reach the instance metadata service, so it has no AWS "
        "credentials (IMDSv2's default hop limit of 1 stops at the container)",
        bedrock_probe.hop_limit_fix(instance_id),
    )
