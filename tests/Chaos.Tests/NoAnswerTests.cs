using Chaos.Verdict;

namespace Chaos.Tests;

/// <summary>A request without an answer keeps why, for the report's list of the other answers in a fault window.</summary>
public sealed class NoAnswerTests
{
    [Fact]
    public void A_connection_closed_under_a_request_is_named_down_to_its_inner_exception()
    {
        var closed = new HttpRequestException(HttpRequestError.ResponseEnded, "An error occurred while sending the request.",
            new IOException("The response ended prematurely."));

        var sample = RequestSample.NoAnswer(Routes.Predict, Samples.At(1), TimeSpan.FromMilliseconds(12), closed);

        Assert.Equal((0, "HttpRequestException"), (sample.Status, sample.Code));
        Assert.True(sample.IsServerFailure);
        Assert.Equal("An error occurred while sending the request. (ResponseEnded) <- The response ended prematurely.", sample.Detail);
    }

    [Fact]
    public void The_drivers_own_time_limit_says_so_and_repeated_messages_appear_once()
    {
        var timedOut = new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout of 30 seconds elapsing.",
            new TimeoutException("The operation was canceled.", new TimeoutException("The operation was canceled.")));

        var sample = RequestSample.NoAnswer(Routes.Predict, Samples.At(1), TimeSpan.FromSeconds(30), timedOut);

        Assert.Equal("TaskCanceledException", sample.Code);
        Assert.Equal("The request was canceled due to the configured HttpClient.Timeout of 30 seconds elapsing. <- The operation was canceled.",
            sample.Detail);
    }
}
