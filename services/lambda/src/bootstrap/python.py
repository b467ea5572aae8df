"""nephos's runtime for Python functions: the Lambda Runtime API loop, as AWS's runs it.

Loads `_HANDLER` (`module.function`, `package/module.function`) from the task root,
then fetches invocations from AWS_LAMBDA_RUNTIME_API, calls the handler with the event
and a context object, and posts the result or the error in AWS's error shape.
Standard library only, so it runs on any Python 3.9+.
"""

import decimal
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback

HOST, _, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
BASE = "/2018-06-01/runtime"
conn = http.client.HTTPConnection(HOST, int(PORT))


def call(method, path, body=None, headers=None):
    global conn
    for attempt in (0, 1):
        try:
            conn.request(method, BASE + path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r, r.read()
        except (ConnectionError, http.client.HTTPException):
            # nephos is gone (or restarted the connection): try once more, then end.
            conn.close()
            conn = http.client.HTTPConnection(HOST, int(PORT))
            if attempt:
                sys.exit(1)


def error_body(error_type, message, request_id="", stack=None):
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": stack or [],
        }
    ).encode()


def init_error(error_type, message, stack=None):
    body = error_body(error_type, message, "", stack)
    print(f"[ERROR] {error_type}: {message}", flush=True)
    call("POST", "/init/error", body, {"Lambda-Runtime-Function-Error-Type": error_type})
    sys.exit(1)


class Client:
    """The mobile client of a client context, as AWS's runtime gives it."""

    def __init__(self, d):
        self.installation_id = d.get("installation_id")
        self.app_title = d.get("app_title")
        self.app_version_name = d.get("app_version_name")
        self.app_version_code = d.get("app_version_code")
        self.app_package_name = d.get("app_package_name")


class ClientContext:
    def __init__(self, d):
        self.client = Client(d["client"]) if isinstance(d.get("client"), dict) else None
        self.custom = d.get("custom")
        self.env = d.get("env")


class CognitoIdentity:
    def __init__(self, d):
        self.cognito_identity_id = d.get("cognitoIdentityId")
        self.cognito_identity_pool_id = d.get("cognitoIdentityPoolId")


# From python3.12 on, AWS's runtime writes results as UTF-8 rather than \u escapes.
ENSURE_ASCII = os.environ.get("AWS_EXECUTION_ENV", "").endswith(("python3.9", "python3.10", "python3.11"))
MARK = "\x00nephos-decimal-%d\x00"


def marshal(result):
    """The result as AWS's runtime writes it: bytes as they are, Decimals as the number
    they hold (what boto3's DynamoDB resource returns)."""
    if isinstance(result, (bytes, bytearray)):
        return bytes(result)
    try:
        return json.dumps(result, ensure_ascii=ENSURE_ASCII).encode()
    except TypeError:
        pass
    decimals = []

    def walk(o):
        if isinstance(o, decimal.Decimal):
            decimals.append(o)
            return MARK % (len(decimals) - 1)
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v) for v in o]
        return o

    text = json.dumps(walk(result), ensure_ascii=ENSURE_ASCII)
    for i, d in enumerate(decimals):
        text = text.replace(json.dumps(MARK % i), str(d))
    return text.encode()


class Context:
    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = ClientContext(client_context) if isinstance(client_context, dict) else None
        self.identity = CognitoIdentity(identity if isinstance(identity, dict) else {})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


class RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


class JsonFormatter(logging.Formatter):
    """AWS's JSON log records (LoggingConfig LogFormat JSON)."""

    def format(self, record):
        entry = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + ".%03dZ" % record.msecs,
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", ""),
        }
        if record.exc_info:
            entry["errorType"] = record.exc_info[0].__name__
            entry["stackTrace"] = traceback.format_exception(*record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging():
    handler = logging.StreamHandler(sys.stdout)
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
        handler.formatter.converter = time.gmtime
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "WARNING").upper())


def load_handler():
    spec = os.environ.get("_HANDLER", "")
    module_path, _, name = spec.rpartition(".")
    if not module_path or not name:
        init_error(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
        )
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        init_error("Runtime.ImportModuleError", f"Unable to import module '{module_path}': {e}")
    except SyntaxError as e:
        init_error(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_path}': {e}",
            traceback.format_list(traceback.extract_tb(e.__traceback__)),
        )
    except Exception as e:  # noqa: BLE001 - any failure of the module's own code
        init_error(
            type(e).__name__,
            str(e),
            traceback.format_list(traceback.extract_tb(e.__traceback__)),
        )
    fn = getattr(module, name, None)
    if fn is None:
        init_error(
            "Runtime.HandlerNotFound",
            f"Handler '{name}' missing on module '{module_path}'",
        )
    return fn


def main():
    root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    # Layer directories come as arguments, last layer first (as /opt would hold them).
    for p in reversed([root, "/opt/python"] + sys.argv[1:]):
        if p and p not in sys.path:
            sys.path.insert(0, p)
    setup_logging()
    handler = load_handler()
    while True:
        r, body = call("GET", "/invocation/next")
        request_id = r.getheader("Lambda-Runtime-Aws-Request-Id")
        deadline = int(r.getheader("Lambda-Runtime-Deadline-Ms") or 0)
        arn = r.getheader("Lambda-Runtime-Invoked-Function-Arn")
        trace = r.getheader("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        cc = r.getheader("Lambda-Runtime-Client-Context")
        ci = r.getheader("Lambda-Runtime-Cognito-Identity")
        RequestIdFilter.request_id = request_id
        try:
            event = json.loads(body) if body else {}
            context = Context(
                request_id, deadline, arn, json.loads(cc) if cc else None, json.loads(ci) if ci else None
            )
            result = handler(event, context)
        except Exception as e:  # noqa: BLE001 - the function's failure, reported as AWS does
            stack = traceback.format_list(traceback.extract_tb(e.__traceback__)[1:])
            # One log event, as AWS's runtime writes it: carriage returns inside.
            text = f"[ERROR] {type(e).__name__}: {e}\nTraceback (most recent call last):\n" + "".join(stack)
            print(text.rstrip("\n").replace("\n", "\r"), flush=True)
            call(
                "POST",
                f"/invocation/{request_id}/error",
                error_body(type(e).__name__, str(e), request_id, stack),
                {"Lambda-Runtime-Function-Error-Type": "Unhandled"},
            )
            continue
        try:
            payload = marshal(result)
        except (TypeError, ValueError) as e:
            call(
                "POST",
                f"/invocation/{request_id}/error",
                error_body("Runtime.MarshalError", f"Unable to marshal response: {e}", request_id),
                {"Lambda-Runtime-Function-Error-Type": "Runtime.MarshalError"},
            )
            continue
        call("POST", f"/invocation/{request_id}/response", payload)


if __name__ == "__main__":
    main()
