using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Worker.Apis;
using Worker.Security;
using Worker.Webhooks;

namespace Worker.Tests.Webhooks;

/// <summary>Per-owner signing keys: a receiver's key verifies its own owner's deliveries and nobody else's.</summary>
public sealed class WebhookSigningKeyTests
{
    private const string DeploymentSecret = "deployment-secret-for-key-tests-0123456789";
    private static readonly byte[] Body = """{"id":"0198c2d4-7f1e-7000-8000-000000000001","type":"job.completed"}"""u8.ToArray();

    private static WebhookSigningKeys Keys => new(Options.Create(new WebhookOptions { SigningSecret = DeploymentSecret }));

    [Fact]
    public void An_owners_key_is_hkdf_sha256_of_the_deployment_secret_with_the_owner_in_info()
    {
        // Computed independently (Python's hmac/hashlib, RFC 5869 by hand): HKDF(secret, info="webhook-signing:v1:alice").
        Assert.Equal("608a42252064a42b0129cff270c180b1036fac134f5b636a304fd2a1f7f81b5e", Keys.KeyFor("alice"));
    }

    [Fact]
    public void Two_owners_keys_differ_and_neither_is_the_deployment_secret()
    {
        var alice = Keys.KeyFor("alice");
        var bob = Keys.KeyFor("bob");

        Assert.NotEqual(alice, bob);
        Assert.NotEqual(DeploymentSecret, alice);
        Assert.Equal(alice, Keys.KeyFor("alice"));
        // Owners that differ only by a prefix or by case get unrelated keys too.
        Assert.NotEqual(Keys.KeyFor("alice"), Keys.KeyFor("alice2"));
        Assert.NotEqual(Keys.KeyFor("alice"), Keys.KeyFor("Alice"));
    }

    [Fact]
    public void A_delivery_signed_for_one_owner_verifies_with_its_key_only()
    {
        var signer = new WebhookSigner(Options.Create(new WebhookOptions { SigningSecret = DeploymentSecret }), TimeProvider.System);
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://example.com/hook");

        signer.Sign(request, "delivery-1", Body, owner: "alice");

        var timestamp = request.Headers.GetValues(WebhookSignature.TimestampHeader).Single();
        var signature = request.Headers.GetValues(WebhookSignature.SignatureHeader).Single();
        bool VerifiesWith(string key) => WebhookSignature.Verify(key, "delivery-1", timestamp, signature, Body,
            DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5));
        Assert.True(VerifiesWith(Keys.KeyFor("alice")));
        Assert.False(VerifiesWith(Keys.KeyFor("bob")));
        Assert.False(VerifiesWith(DeploymentSecret));
    }

    [Fact]
    public void A_job_outcome_delivery_carries_its_owner()
    {
        var message = new WebhookMessage(Guid.CreateVersion7(), "job.completed", DateTimeOffset.UtcNow, Guid.CreateVersion7(),
            "alice", "https://example.com/hook", Body);

        var delivery = WebhookMessage.TryParse(message.ToBytes())!.ToDelivery();

        Assert.Equal("alice", delivery.Owner);
        Assert.Equal(message.EventId.ToString(), delivery.Id);
        Assert.Equal(Body, delivery.Body.ToArray());
    }

    [Fact]
    public void The_worker_api_hands_the_acting_user_its_key()
    {
        var alice = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
            [new(Caller.ServiceClaim, "gateway"), new(Caller.UserClaim, "alice")], "test"));

        var ok = WebhooksApi.GetSigningKey(alice, Keys);

        Assert.Equal(new WebhookSigningKey("alice", Keys.KeyFor("alice"), "HMAC-SHA256", "v1"), ok.Value);
    }
}
