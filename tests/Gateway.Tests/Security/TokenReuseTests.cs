using System.Security.Claims;
using System.Text;
using Gateway.Upstream.Worker;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ServiceDefaults.Security;

namespace Gateway.Tests.Security;

/// <summary>
/// A token is validated once and remembered (<see cref="CachingJsonWebTokenHandler"/>, the gateway's and the Worker's
/// bearer handler), and the gateway signs its token for the Worker once per user and scope while it outlives a call
/// (<see cref="WorkerTokens"/>).
/// </summary>
public sealed class TokenReuseTests
{
    private static readonly SymmetricSecurityKey Key = new(Encoding.UTF8.GetBytes("the key these tests sign their tokens with, 32+ bytes"));
    private static readonly SymmetricSecurityKey OtherKey = new(Encoding.UTF8.GetBytes("a key that signed none of these tokens, also 32+ bytes"));

    private static string Token(TimeSpan lifetime) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "issuer",
        Audience = "audience",
        Expires = DateTime.UtcNow + lifetime,
        Claims = new Dictionary<string, object> { ["sub"] = "alice", ["scope"] = "jobs" },
        SigningCredentials = new SigningCredentials(Key, SecurityAlgorithms.HmacSha256),
    });

    private static TokenValidationParameters Parameters(SecurityKey key) => new()
    {
        ValidIssuer = "issuer",
        ValidAudience = "audience",
        IssuerSigningKey = key,
        ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
    };

    [Fact]
    public async Task A_valid_token_is_validated_once_and_each_request_gets_an_identity_of_its_own()
    {
        var handler = new CachingJsonWebTokenHandler(new ManualClock());
        var token = Token(TimeSpan.FromMinutes(10));

        var first = await handler.ValidateTokenAsync(token, Parameters(Key));
        // Parameters the token fails: only a remembered validation can pass it.
        var second = await handler.ValidateTokenAsync(token, Parameters(OtherKey));

        Assert.True(first.IsValid);
        Assert.True(second.IsValid);
        Assert.NotSame(first.ClaimsIdentity, second.ClaimsIdentity);
        first.ClaimsIdentity.AddClaim(new Claim("added-by", "the first request"));
        Assert.Null(second.ClaimsIdentity.FindFirst("added-by"));
        Assert.Equal("alice", second.ClaimsIdentity.FindFirst("sub")?.Value);
        Assert.Same(first.SecurityToken, second.SecurityToken);
    }

    [Fact]
    public async Task A_validation_is_reused_for_a_minute_at_most_and_never_past_the_tokens_expiry()
    {
        var clock = new ManualClock();
        var handler = new CachingJsonWebTokenHandler(clock);
        var longLived = Token(TimeSpan.FromMinutes(10));
        var shortLived = Token(TimeSpan.FromSeconds(20));
        Assert.True((await handler.ValidateTokenAsync(longLived, Parameters(Key))).IsValid);
        Assert.True((await handler.ValidateTokenAsync(shortLived, Parameters(Key))).IsValid);

        clock.Advance(TimeSpan.FromSeconds(25));
        Assert.True((await handler.ValidateTokenAsync(longLived, Parameters(OtherKey))).IsValid); // remembered
        Assert.False((await handler.ValidateTokenAsync(shortLived, Parameters(OtherKey))).IsValid); // expired: validated again

        clock.Advance(CachingJsonWebTokenHandler.MaxAge);
        Assert.False((await handler.ValidateTokenAsync(longLived, Parameters(OtherKey))).IsValid); // a minute on: again
    }

    [Fact]
    public async Task An_invalid_token_is_not_remembered()
    {
        var handler = new CachingJsonWebTokenHandler(new ManualClock());
        var token = Token(TimeSpan.FromMinutes(10));

        Assert.False((await handler.ValidateTokenAsync(token, Parameters(OtherKey))).IsValid);
        Assert.True((await handler.ValidateTokenAsync(token, Parameters(Key))).IsValid);
        Assert.True((await handler.ValidateTokenAsync(token + "x", Parameters(Key))) is { IsValid: false });
    }

    [Fact]
    public void The_gateway_reuses_its_token_for_the_worker_while_it_outlives_a_whole_call()
    {
        var clock = new ManualClock();
        var tokens = WorkerTokensWith(clock, lifetime: TimeSpan.FromMinutes(1), totalTimeout: TimeSpan.FromSeconds(30));

        var first = tokens.Create("alice", "jobs");
        Assert.Equal(first, tokens.Create("alice", "jobs"));
        Assert.NotEqual(first, tokens.Create("alice", "predict"));
        Assert.NotEqual(first, tokens.Create("bob", "jobs"));

        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(first, tokens.Create("alice", "jobs")); // 31 s left: a 30 s call still ends before it expires
        clock.Advance(TimeSpan.FromSeconds(2));
        var renewed = tokens.Create("alice", "jobs");
        Assert.NotEqual(first, renewed);
        Assert.Equal(clock.GetUtcNow().UtcDateTime.AddMinutes(1), new JsonWebToken(renewed).ValidTo, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void A_token_that_would_not_outlive_a_call_is_never_reused()
    {
        var clock = new ManualClock();
        var tokens = WorkerTokensWith(clock, lifetime: TimeSpan.FromSeconds(30), totalTimeout: TimeSpan.FromSeconds(30));

        var first = tokens.Create("alice", "jobs");
        clock.Advance(TimeSpan.FromSeconds(1)); // a token's times are in whole seconds: the same second signs the same token
        Assert.NotEqual(first, tokens.Create("alice", "jobs"));
    }

    private static WorkerTokens WorkerTokensWith(TimeProvider clock, TimeSpan lifetime, TimeSpan totalTimeout) => new(
        Options.Create(new WorkerTokenOptions { SigningKey = "the gateway's key for these tests, at least 32 bytes", Lifetime = lifetime }),
        Options.Create(new WorkerCallOptions { TotalTimeout = totalTimeout }), clock);

    /// <summary>A clock that starts at the real time and moves only when told.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UtcNow;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
