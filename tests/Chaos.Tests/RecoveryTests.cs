using static Chaos.Tests.Samples;

namespace Chaos.Tests;

public sealed class RecoveryTests
{
    [Fact]
    public void A_route_that_never_failed_after_the_return_recovered_at_once() =>
        Assert.Equal(TimeSpan.Zero, Recovery.Time([Failed(1), Ok(10.5), Ok(11)], Routes.Predict, At(10), At(20)));

    [Fact]
    public void Recovery_is_the_first_success_after_the_last_failure()
    {
        RequestSample[] samples = [Failed(10.2), Ok(10.5), Failed(11), Ok(12.5), Ok(13), Ok(19)];

        Assert.Equal(TimeSpan.FromSeconds(2.5), Recovery.Time(samples, Routes.Predict, At(10), At(20)));
    }

    [Fact]
    public void A_route_still_failing_at_the_end_did_not_recover() =>
        Assert.Null(Recovery.Time([Ok(10.5), Failed(19)], Routes.Predict, At(10), At(20)));

    [Fact]
    public void No_request_after_the_return_is_no_recovery() =>
        Assert.Null(Recovery.Time([Ok(5)], Routes.Predict, At(10), At(20)));

    [Fact]
    public void Other_routes_and_later_requests_do_not_count()
    {
        RequestSample[] samples = [Ok(10.5), Failed(11, route: Routes.SubmitJob), Failed(25)];

        Assert.Equal(TimeSpan.Zero, Recovery.Time(samples, Routes.Predict, At(10), At(20)));
    }
}
