using System.Text;
using Microsoft.Extensions.Options;
using Worker.Webhooks;

namespace Worker.Tests.Webhooks;

public sealed class WebhookSignatureTests
{
    private const string Secret = "test-secret-that-is-at-least-32-chars!";
    private const string OtherSecret = "another-secret-that-is-also-32-chars-long";
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"status":"succeeded"}""");
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    private static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private static string Timestamp(DateTimeOffset at) => at.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Sign(string secret, string id, DateTimeOffset at, byte[] body) =>
        WebhookSignature.Compute(secret, id, at.ToUnixTimeSeconds(), body);

    [Fact]
    public void The_signature_matches_an_independent_hmac_of_id_timestamp_and_body() =>
        // Computed with Python's hmac module: hmac.new(secret, b"job-42.1700000000." + body, sha256).hexdigest()
        Assert.Equal("v1=3dbd6505861065059c6e77354e720fc190535cc63eaa1a881d74faf767d9cda5",
            WebhookSignature.Compute(Secret, "job-42", 1_700_000_000, Body));

    [Fact]
    public void A_signed_request_verifies_with_its_own_headers()
    {
        var clock = new FixedClock(Now);
        var signer = new WebhookSigner(Options.Create(new WebhookOptions { SigningSecret = Secret }), clock);
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://receiver.test/");

        signer.Sign(request, "job-42", Body);

        string Header(string name) => Assert.Single(request.Headers.GetValues(name));
        Assert.Equal("job-42", Header(WebhookSignature.IdHeader));
        Assert.Equal("1700000000", Header(WebhookSignature.TimestampHeader));
        Assert.Matches("^v1=[0-9a-f]{64}$", Header(WebhookSignature.SignatureHeader));
        Assert.True(WebhookSignature.Verify(Secret, Header(WebhookSignature.IdHeader), Header(WebhookSignature.TimestampHeader),
            Header(WebhookSignature.SignatureHeader), Body, Now, Tolerance));
    }

    [Fact]
    public void Signing_twice_replaces_the_headers_instead_of_adding_values()
    {
        var clock = new FixedClock(Now);
        var signer = new WebhookSigner(Options.Create(new WebhookOptions { SigningSecret = Secret }), clock);
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://receiver.test/");

        signer.Sign(request, "job-42", Body);
        clock.Now = Now.AddSeconds(30);
        signer.Sign(request, "job-42", Body);

        Assert.Equal("1700000030", Assert.Single(request.Headers.GetValues(WebhookSignature.TimestampHeader)));
        Assert.Single(request.Headers.GetValues(WebhookSignature.SignatureHeader));
    }

    [Fact]
    public void A_tampered_body_is_rejected()
    {
        var signature = Sign(Secret, "job-42", Now, Body);
        var tampered = Encoding.UTF8.GetBytes("""{"status":"failed"}""");

        Assert.False(WebhookSignature.Verify(Secret, "job-42", Timestamp(Now), signature, tampered, Now, Tolerance));
    }

    [Fact]
    public void A_signature_made_with_another_secret_is_rejected() =>
        Assert.False(WebhookSignature.Verify(Secret, "job-42", Timestamp(Now), Sign(OtherSecret, "job-42", Now, Body), Body, Now, Tolerance));

    [Fact]
    public void A_signature_moved_to_another_delivery_id_or_timestamp_is_rejected()
    {
        var signature = Sign(Secret, "job-42", Now, Body);

        Assert.False(WebhookSignature.Verify(Secret, "job-43", Timestamp(Now), signature, Body, Now, Tolerance));
        Assert.False(WebhookSignature.Verify(Secret, "job-42", Timestamp(Now.AddSeconds(1)), signature, Body, Now, Tolerance));
    }

    [Theory]
    [InlineData(-301)] // replayed after the tolerance
    [InlineData(301)] // from a clock too far ahead
    public void A_timestamp_outside_the_tolerance_is_rejected(int secondsFromNow)
    {
        var at = Now.AddSeconds(secondsFromNow);

        Assert.False(WebhookSignature.Verify(Secret, "job-42", Timestamp(at), Sign(Secret, "job-42", at, Body), Body, Now, Tolerance));
    }

    [Theory]
    [InlineData(-300)]
    [InlineData(299)]
    public void A_timestamp_within_the_tolerance_is_accepted(int secondsFromNow)
    {
        var at = Now.AddSeconds(secondsFromNow);

        Assert.True(WebhookSignature.Verify(Secret, "job-42", Timestamp(at), Sign(Secret, "job-42", at, Body), Body, Now, Tolerance));
    }

    [Fact]
    public void During_key_rotation_either_of_two_signatures_is_accepted()
    {
        var header = $"{Sign(OtherSecret, "job-42", Now, Body)} {Sign(Secret, "job-42", Now, Body)}";

        Assert.True(WebhookSignature.Verify(Secret, "job-42", Timestamp(Now), header, Body, Now, Tolerance));
        Assert.True(WebhookSignature.Verify(OtherSecret, "job-42", Timestamp(Now), header, Body, Now, Tolerance));
        Assert.False(WebhookSignature.Verify("a-third-secret-that-signed-neither-of-them", "job-42", Timestamp(Now), header, Body, Now, Tolerance));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("v1=")]
    [InlineData("v1=zz")]
    [InlineData("v0=3dbd6505861065059c6e77354e720fc190535cc63eaa1a881d74faf767d9cda5")]
    [InlineData("3dbd6505861065059c6e77354e720fc190535cc63eaa1a881d74faf767d9cda5")]
    [InlineData("v1=3dbd6505861065059c6e77354e720fc190535cc63eaa1a881d74faf767d9cd")]
    public void A_missing_or_malformed_signature_is_rejected(string? header) =>
        Assert.False(WebhookSignature.Verify(Secret, "job-42", Timestamp(Now), header, Body, Now, Tolerance));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("-1700000000")]
    [InlineData("+1700000000")]
    [InlineData("1.7e9")]
    [InlineData("99999999999999999999")]
    public void A_missing_or_malformed_timestamp_is_rejected(string? timestamp) =>
        Assert.False(WebhookSignature.Verify(Secret, "job-42", timestamp, Sign(Secret, "job-42", Now, Body), Body, Now, Tolerance));

    [Theory]
    [InlineData("")]
    [InlineData("job.42")]
    [InlineData("job 42")]
    [InlineData("job\n42")]
    public void A_delivery_id_that_would_make_the_signed_text_ambiguous_is_refused(string id) =>
        Assert.Throws<ArgumentException>(() => new WebhookDelivery(id, "http://receiver.test/", Body));

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
