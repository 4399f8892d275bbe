"""schedctl: the command-line client for users on their own machines.

    python -m schedctl login                    # asks for username/password, saves a token
    python -m schedctl submit --cpu 0.5 --mem 256 --name hello -- echo hello
    python -m schedctl submit --array 0-99%10 --retries 3 --dependency afterok:12:13 -- ./step.sh
    python -m schedctl submit -f job.yaml       # YAML or JSON, one task or several (in one request)
    python -m schedctl array ID  |  cancel --array ID  |  plan [options] -- CMD (dry run)
    python -m schedctl tasks [--status RUNNING]  |  show ID  |  cancel ID  |  logs ID [--follow]
    python -m schedctl nodes  |  drain NODE  |  undrain NODE

The master and token come from --master/--token, else SCHEDULER_URL/SCHEDULER_TOKEN, else the
config file (~/.config/mini-scheduler/config.json, written by `login`). It needs only requests
and websocket-client, never the server's code.
"""
