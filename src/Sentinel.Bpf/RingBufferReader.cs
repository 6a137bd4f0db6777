using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sentinel.Bpf.Native;

namespace Sentinel.Bpf;

public delegate void RecordHandler(ReadOnlySpan<byte> record);

/// <summary>
/// A libbpf ring buffer consumer. Records reach <see cref="RecordHandler"/> as spans over the ring's memory,
/// valid only during the call. The native callback never lets an exception escape; handler failures are counted.
/// </summary>
public sealed unsafe class RingBufferReader : IDisposable
{
    private readonly RingBufferHandle _ring;
    private readonly RecordHandler _handler;
    private GCHandle _self;
    private long _handlerErrors;
    private volatile bool _yield;

    public RingBufferReader(int mapFd, RecordHandler handler)
    {
        _handler = handler;
        _self = GCHandle.Alloc(this);
        var raw = Libbpf.ring_buffer__new(mapFd, &OnSample, GCHandle.ToIntPtr(_self), 0);
        if (raw == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            _self.Free();
            throw new BpfException(BpfErrorKind.Map, errno, $"ring_buffer__new: {Libbpf.ErrorMessage(errno)}");
        }
        _ring = new RingBufferHandle();
        Marshal.InitHandle(_ring, raw);
    }

    public long HandlerErrors => Interlocked.Read(ref _handlerErrors);

    public Exception? LastHandlerError { get; private set; }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for the kernel's wakeup without consuming anything, so an owner that drains
    /// under its own lock never holds it while waiting. Returns 0 on timeout, 1 when woken, or -errno.
    /// </summary>
    public int Wait(int timeoutMs)
    {
        var events = stackalloc byte[16];
        var rc = Libbpf.epoll_wait(EpollFd, events, 1, timeoutMs);
        return rc >= 0 ? rc : -Marshal.GetLastPInvokeError();
    }

    /// <summary>The epoll instance libbpf made for this ring (owned by libbpf).</summary>
    internal int EpollFd => Libbpf.ring_buffer__epoll_fd(_ring);

    /// <summary>Consumes everything pending without waiting (the producer may have skipped the wakeup).</summary>
    public int Consume() => Libbpf.ring_buffer__consume(_ring);

    /// <summary>
    /// Makes a running <see cref="Consume"/> return after the current record. Under a flood
    /// the producer refills the ring as fast as it drains, so libbpf's consume loop would otherwise never return
    /// and a stop request would never be seen. <see cref="ResumeConsuming"/> clears it.
    /// </summary>
    public void YieldSoon() => _yield = true;

    public void ResumeConsuming() => _yield = false;

    [UnmanagedCallersOnly]
    private static int OnSample(nint ctx, nint data, nuint size)
    {
        RingBufferReader? reader = null;
        try
        {
            reader = (RingBufferReader)GCHandle.FromIntPtr(ctx).Target!;
            reader._handler(new ReadOnlySpan<byte>((void*)data, (int)Math.Min(size, int.MaxValue)));
        }
        catch (Exception ex)
        {
            if (reader is not null)
            {
                Interlocked.Increment(ref reader._handlerErrors);
                reader.LastHandlerError = ex;
            }
        }
        // libbpf has already advanced past this record, so stopping here loses nothing; 0 goes on to the next.
        return reader is { _yield: true } ? -4 /* EINTR */ : 0;
    }

    public void Dispose()
    {
        _ring.Dispose();
        if (_self.IsAllocated) _self.Free();
    }
}
