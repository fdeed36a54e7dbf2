"""A wire-faithful AWS Bedrock Runtime stand-in for tests and benchmarks.

Run it with `python -m tests.fakes.bedrock --help`; from Python use
`tests.fakes.bedrock.harness.running_bedrock`. Modules, one job each:
    server       the ASGI app: gates a model call goes through, control API under /_fake/
    sigv4        authentication (SigV4 via botocore, or an API key)
    rules        model ids and conversations Bedrock refuses;   betas  the beta flags it accepts
    count_tokens the CountTokens operation
    replies      the deterministic answer;   tokens  token counts and prompt caching
    responses    Converse JSON and ConverseStream events;   eventstream  frame encoding
    faults       faults per model id;   errors  Bedrock's error answers
"""
