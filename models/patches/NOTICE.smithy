The generated patches models/patches/<service>.xmlroots.json hold facts (XML root element
names, the @xmlName traits of output shapes) derived by models/xmlroots.py from AWS's
Smithy service models, as vendored by the AWS SDKs (for example smithy-rs,
aws/sdk/aws-models/). Those models are Copyright Amazon.com, Inc. or its affiliates and
licensed under the Apache License, Version 2.0 (see ../LICENSE.botocore.txt for its text).
