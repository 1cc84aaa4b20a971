import pytest


@pytest.fixture
def s3(s3_endpoint, request):
    """An s3fs filesystem configured the way a MinIO user would, with a fresh bucket."""
    import s3fs

    fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=s3_endpoint, skip_instance_cache=True)
    bucket = f"bucket-{abs(hash(request.node.name)) % 10**8}"
    fs.mkdir(bucket)
    return fs, bucket
