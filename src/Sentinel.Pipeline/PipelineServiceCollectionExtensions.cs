using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sentinel.Events;

namespace Sentinel.Pipeline;

public static class PipelineServiceCollectionExtensions
{
    /// <summary>
    /// Registers the event channel (with its pool and writer, for the source), the pipeline and the hosted service
    /// that runs it. The pipeline takes what the container holds when it is first resolved: every
    /// <see cref="IEventEnricher"/>, the <see cref="IDetector"/> if there is one, every <see cref="IEventObserver"/>
    /// and every <see cref="IDetectionSink"/>. Hosted services start in registration order and stop in reverse: add
    /// this before the capture source, so the pipeline reads before the first event and drains after the last.
    /// </summary>
    public static IServiceCollection AddSentinelPipeline(this IServiceCollection services, int channelCapacity = EventChannel.DefaultCapacity)
    {
        var channel = new EventChannel(channelCapacity);
        services.AddSingleton(channel);
        services.AddSingleton(channel.Pool);
        services.AddSingleton(channel.Channel.Writer);
        services.AddSingleton(sp => new EventPipeline(
            sp.GetServices<IEventEnricher>(),
            sp.GetService<IDetector>(),
            sp.GetServices<IEventObserver>(),
            sp.GetServices<IDetectionSink>(),
            sp.GetRequiredService<ILogger<EventPipeline>>()));
        // Status reads the counters without knowing the pipeline.
        services.AddSingleton(sp => sp.GetRequiredService<EventPipeline>().Counters);
        services.AddSingleton<PipelineService>();
        services.AddHostedService(sp => sp.GetRequiredService<PipelineService>());
        return services;
    }
}
