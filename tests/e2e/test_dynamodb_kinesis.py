"""DynamoDB Kinesis streaming destinations: stored and described."""

import pytest
from botocore.exceptions import ClientError

from dynamodb_helpers import ddb, error_of, make_table


def test_kinesis_destinations_are_stored(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "kin")
    arn = f"arn:aws:kinesis:us-east-1:{account}:stream/s1"
    assert c.describe_kinesis_streaming_destination(TableName="kin")["KinesisDataStreamDestinations"] == []
    out = c.enable_kinesis_streaming_destination(TableName="kin", StreamArn=arn)
    assert out["DestinationStatus"] == "ENABLING" and out["StreamArn"] == arn
    d = c.describe_kinesis_streaming_destination(TableName="kin")["KinesisDataStreamDestinations"]
    assert d == [{"StreamArn": arn, "DestinationStatus": "ACTIVE", "ApproximateCreationDateTimePrecision": "MILLISECOND"}]
    with pytest.raises(ClientError) as e:
        c.enable_kinesis_streaming_destination(TableName="kin", StreamArn=arn)
    assert error_of(e)[0] == "ValidationException"
    assert c.disable_kinesis_streaming_destination(TableName="kin", StreamArn=arn)["DestinationStatus"] == "DISABLING"
    d = c.describe_kinesis_streaming_destination(TableName="kin")["KinesisDataStreamDestinations"]
    assert d[0]["DestinationStatus"] == "DISABLED"
    with pytest.raises(ClientError) as e:
        c.disable_kinesis_streaming_destination(TableName="kin", StreamArn=arn)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        c.describe_kinesis_streaming_destination(TableName="nope")
    assert error_of(e)[0] == "ResourceNotFoundException"
