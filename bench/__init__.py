"""Speed checks: `python -m bench generate` makes a commune (or a province) with years of data,
`python -m bench` times every office command and the digest on it beside a plain baseline query."""
