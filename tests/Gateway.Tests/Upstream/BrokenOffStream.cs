namespace Gateway.Tests.Upstream;

/// <summary>Gives its bytes, then fails as a connection closed mid-body does.</summary>
internal sealed class BrokenOffStream(byte[] sent) : Stream
{
    private int _read;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (_read == sent.Length)
        {
            throw new IOException("The response ended prematurely.");
        }

        var given = Math.Min(count, sent.Length - _read);
        Array.Copy(sent, _read, buffer, offset, given);
        _read += given;
        return given;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
