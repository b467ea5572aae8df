"""Static website hosting on the website endpoint (`<bucket>.s3-website...` hosts):
index and error documents, redirects (all requests, routing rules, per object), HTML
error pages, anonymous access through the bucket policy, GET and HEAD only. Requests
are plain HTTP, as a browser sends them."""

import json

import pytest
import requests

from s3util import bucket_name


def public_site(s3, b, **website):
    s3.create_bucket(Bucket=b)
    s3.delete_public_access_block(Bucket=b)
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{b}/*"}]}))
    s3.put_bucket_website(Bucket=b, WebsiteConfiguration=website)


def get(nephos, host, path, method="GET", **kw):
    return requests.request(method, f"{nephos.endpoint}{path}", headers={"Host": host},
                            allow_redirects=False, timeout=5, **kw)


@pytest.fixture
def site(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "site")
    public_site(s3, b, IndexDocument={"Suffix": "index.html"},
                ErrorDocument={"Key": "error.html"})
    for key, body in [("index.html", b"<h1>home</h1>"), ("docs/index.html", b"docs home"),
                      ("docs/a b.html", b"spaced"), ("error.html", b"<h1>oops</h1>")]:
        s3.put_object(Bucket=b, Key=key, Body=body, ContentType="text/html")
    return s3, b


@pytest.mark.parametrize("host", [
    "{b}.s3-website.localhost:{port}",
    "{b}.s3-website-us-east-1.amazonaws.com",
    "{b}.s3-website.eu-west-1.amazonaws.com",
    "{b}.s3-website.localhost.localstack.cloud:{port}",
])
def test_index_and_error_documents(nephos, site, host):
    s3, b = site
    host = host.format(b=b, port=nephos.port)
    r = get(nephos, host, "/")
    assert (r.status_code, r.content) == (200, b"<h1>home</h1>")
    assert r.headers["content-type"] == "text/html"
    r = get(nephos, host, "/docs/")
    assert (r.status_code, r.content) == (200, b"docs home")
    assert get(nephos, host, "/docs/a%20b.html").content == b"spaced"
    # A folder without its slash is redirected to it.
    r = get(nephos, host, "/docs")
    assert r.status_code == 302 and r.headers["location"] == "/docs/"
    # The error document answers with the error's status: 403, since the policy does not
    # let everyone list (AWS hides which keys exist), 404 once it does.
    r = get(nephos, host, "/missing.html")
    assert (r.status_code, r.content) == (403, b"<h1>oops</h1>")
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*",
                       "Action": ["s3:GetObject", "s3:ListBucket"],
                       "Resource": [f"arn:aws:s3:::{b}/*", f"arn:aws:s3:::{b}"]}]}))
    r = get(nephos, host, "/missing.html")
    assert (r.status_code, r.content) == (404, b"<h1>oops</h1>")
    r = get(nephos, host, "/index.html", method="HEAD")
    assert r.status_code == 200 and r.headers["content-length"] == "13"


def test_html_error_pages_and_methods(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "bare")
    public_site(s3, b, IndexDocument={"Suffix": "index.html"})
    host = f"{b}.s3-website.localhost:{nephos.port}"
    r = get(nephos, host, "/nothing/here.html")
    # Without s3:ListBucket for everyone a missing key is forbidden, as on AWS.
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "<title>403 Forbidden</title>" in r.text and "<li>Code: AccessDenied</li>" in r.text
    policy = json.loads(s3.get_bucket_policy(Bucket=b)["Policy"])
    policy["Statement"].append({"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
                                "Resource": f"arn:aws:s3:::{b}"})
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    r = get(nephos, host, "/nothing/here.html")
    assert r.status_code == 404
    assert "<h1>404 Not Found</h1>" in r.text
    assert "<li>Code: NoSuchKey</li>" in r.text and "<li>Key: nothing/here.html</li>" in r.text
    assert "<li>RequestId: " in r.text
    assert "Custom Error Document" not in r.text
    # A configured error document that is missing gets a section of its own.
    s3.put_bucket_website(Bucket=b, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "errors/404.html"}})
    r = get(nephos, host, "/nothing/here.html")
    assert r.status_code == 404 and "<li>Key: nothing/here.html</li>" in r.text
    section = r.text.split("<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>")
    assert len(section) == 2
    assert "<li>Code: NoSuchKey</li>" in section[1] and "<li>Key: errors/404.html</li>" in section[1]
    assert "x-amz-meta-nephos-website-document-error" not in {k.lower() for k in r.headers}
    r = get(nephos, host, "/x", method="POST", data=b"x")
    assert r.status_code == 405 and "<li>Code: MethodNotAllowed</li>" in r.text
    assert get(nephos, host, "/x", method="PUT", data=b"x").status_code == 405
    # Buckets without a website configuration, and missing buckets.
    plain = bucket_name(account, "plain")
    s3.create_bucket(Bucket=plain)
    r = get(nephos, f"{plain}.s3-website.localhost:{nephos.port}", "/")
    assert r.status_code == 404 and "<li>Code: NoSuchWebsiteConfiguration</li>" in r.text
    r = get(nephos, f"nosuch-{plain}.s3-website.localhost:{nephos.port}", "/")
    assert r.status_code == 404 and "<li>BucketName: nosuch-" in r.text


def test_private_sites_are_forbidden(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "priv")
    s3.create_bucket(Bucket=b)
    s3.put_bucket_website(Bucket=b, WebsiteConfiguration={"IndexDocument": {"Suffix": "i.html"}})
    s3.put_object(Bucket=b, Key="i.html", Body=b"hi")
    r = get(nephos, f"{b}.s3-website.localhost:{nephos.port}", "/")
    assert r.status_code == 403 and "AccessDenied" in r.text


def test_redirects(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "rr")
    public_site(s3, b, IndexDocument={"Suffix": "index.html"}, RoutingRules=[
        {"Condition": {"KeyPrefixEquals": "docs/"},
         "Redirect": {"ReplaceKeyPrefixWith": "documents/"}},
        {"Condition": {"KeyPrefixEquals": "old.html"},
         "Redirect": {"ReplaceKeyWith": "new.html", "HttpRedirectCode": "302"}},
        {"Condition": {"KeyPrefixEquals": "ext/"},
         "Redirect": {"HostName": "example.com", "Protocol": "https"}},
        {"Condition": {"HttpErrorCodeReturnedEquals": "404"},
         "Redirect": {"HostName": "fallback.example.com", "ReplaceKeyPrefixWith": "report-404/"}},
    ])
    host = f"{b}.s3-website.localhost:{nephos.port}"
    r = get(nephos, host, "/docs/a.html")
    assert r.status_code == 301 and r.headers["location"] == f"http://{host}/documents/a.html"
    assert r.content == b""
    r = get(nephos, host, "/old.html")
    assert r.status_code == 302 and r.headers["location"] == f"http://{host}/new.html"
    r = get(nephos, host, "/ext/p")
    assert r.headers["location"] == "https://example.com/ext/p"
    # Error-code rules apply once the lookup fails (the policy lets everyone list).
    policy = json.loads(s3.get_bucket_policy(Bucket=b)["Policy"])
    policy["Statement"].append({"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
                                "Resource": f"arn:aws:s3:::{b}"})
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    r = get(nephos, host, "/gone.html")
    assert r.status_code == 301
    assert r.headers["location"] == "http://fallback.example.com/report-404/gone.html"
    # Objects redirect themselves with x-amz-website-redirect-location.
    s3.put_object(Bucket=b, Key="moved.html", Body=b"", WebsiteRedirectLocation="/index.html")
    r = get(nephos, host, "/moved.html")
    assert r.status_code == 301 and r.headers["location"] == "/index.html"

    all_b = bucket_name(account, "all")
    public_site(s3, all_b, RedirectAllRequestsTo={"HostName": "www.example.com",
                                                  "Protocol": "https"})
    r = get(nephos, f"{all_b}.s3-website.localhost:{nephos.port}", "/a/b.html")
    assert r.status_code == 301 and r.headers["location"] == "https://www.example.com/a/b.html"


def test_public_read_acl_site_and_redirecting_error_document(nephos, account):
    """With a public-read bucket ACL (list, not read), a missing page is 404, not 403; an
    error document that redirects sends the browser on (both AWS-recorded)."""
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "aclsite")
    s3.create_bucket(Bucket=b, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=b)
    s3.put_bucket_acl(Bucket=b, ACL="public-read")
    s3.put_bucket_website(Bucket=b, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"}})
    host = f"{b}.s3-website.localhost:{nephos.port}"
    assert get(nephos, host, "/").status_code == 404
    s3.put_object(Bucket=b, Key="private.html", Body=b"p")
    assert get(nephos, host, "/private.html").status_code == 403
    s3.put_object(Bucket=b, Key="error.html", Body=b"moved", ACL="public-read",
                  WebsiteRedirectLocation="/another/error.html")
    r = get(nephos, host, "/missing.html")
    assert r.status_code == 301 and r.headers["Location"] == "/another/error.html"


@pytest.mark.parametrize("config, code, message", [
    ({"IndexDocument": {"Suffix": "/index.html"}}, "InvalidArgument",
     "The IndexDocument Suffix is not well formed"),
    ({"RedirectAllRequestsTo": {"HostName": "x"}, "IndexDocument": {"Suffix": "i.html"}},
     "InvalidArgument", "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules."),
    ({"ErrorDocument": {"Key": "e.html"}}, "InvalidArgument",
     "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty"),
    ({"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": [{"Redirect": {"Protocol": "ftp"}}]},
     "InvalidRequest", "Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically."),
    ({"IndexDocument": {"Suffix": "i.html"},
      "RoutingRules": [{"Redirect": {"ReplaceKeyPrefixWith": "p", "ReplaceKeyWith": "k"}}]},
     "InvalidRequest", "You can only define ReplaceKeyPrefix or ReplaceKey but not both."),
    ({"IndexDocument": {"Suffix": "i.html"},
      "RoutingRules": [{"Redirect": {"ReplaceKeyPrefixWith": "p"}, "Condition": {}}]},
     "InvalidRequest", "Condition cannot be empty. To redirect all requests without a condition, the condition element shouldn't be present."),
    ({"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": []}, "MalformedXML", None),
])
def test_website_configuration_validation(nephos, account, config, code, message):
    from botocore.exceptions import ClientError

    s3 = nephos.client("s3", account=account, config_args={"parameter_validation": False})
    b = bucket_name(account, "badsite")
    s3.create_bucket(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_website(Bucket=b, WebsiteConfiguration=config)
    assert e.value.response["Error"]["Code"] == code
    if message:
        assert e.value.response["Error"]["Message"] == message
