using System.Runtime.InteropServices;

namespace RewardedSoups.Tasks.Locomotion;

/// <summary>MuJoCo's warning kinds (mjtWarning), counted per <see cref="MjData"/> since its last reset.</summary>
public enum MjWarning
{
    Inertia = 0,
    ContactFull = 1,
    ConstraintFull = 2,
    VisualGeomFull = 3,
    /// <summary>NaN, inf or |x| &gt; 1e10 in qpos; MuJoCo resets the data and counts this.</summary>
    BadQpos = 4,
    /// <summary>Likewise in qvel.</summary>
    BadQvel = 5,
    /// <summary>Likewise in qacc: the simulation diverged; MuJoCo resets the data and counts this.</summary>
    BadQacc = 6,
    /// <summary>Likewise in ctrl; MuJoCo then ignores the controls.</summary>
    BadCtrl = 7,
}

/// <summary>
/// The simulation state of one instance of a model (mjData). <see cref="Qpos"/>, <see cref="Qvel"/> and
/// <see cref="Ctrl"/> are writable views of the native arrays, valid until <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class MjData : IDisposable
{
    private readonly MjModel _model;
    private readonly DataHandle _handle;
    // The data's arrays live in one native buffer allocated by mj_makeData and never move.
    private readonly double* _qpos;
    private readonly double* _qvel;
    private readonly double* _ctrl;
    private readonly double* _act;
    private readonly double* _qaccWarmstart;
    private readonly double* _xpos;

    public MjData(MjModel model)
    {
        nint data = MuJoCo.mj_makeData(model.Pointer);
        if (data == 0) throw new OutOfMemoryException($"MuJoCo could not allocate data for model '{model.Path}'");
        _model = model;
        _handle = new DataHandle(data);
        byte* d = (byte*)data;
        _qpos = *(double**)(d + MjLayout.DataQpos);
        _qvel = *(double**)(d + MjLayout.DataQvel);
        _ctrl = *(double**)(d + MjLayout.DataCtrl);
        _act = *(double**)(d + MjLayout.DataAct);
        _qaccWarmstart = *(double**)(d + MjLayout.DataQaccWarmstart);
        _xpos = *(double**)(d + MjLayout.DataXpos);
    }

    public MjModel Model => _model;

    /// <summary>Simulated time in seconds since the last reset (settable: part of the state a resumed simulation restores).</summary>
    public double Time
    {
        get => *(double*)((byte*)Pointer + MjLayout.DataTime);
        set => *(double*)((byte*)Pointer + MjLayout.DataTime) = value;
    }

    /// <summary>Actuator activations <c>[na]</c> (empty for plain motors).</summary>
    public Span<double> Act => _model.Na == 0 ? [] : new(Checked(_act), _model.Na);

    /// <summary>
    /// The accelerations the constraint solver starts from at the next step <c>[nv]</c>: with time, qpos,
    /// qvel and act, the state that makes a restored simulation continue bit for bit (MuJoCo 2.2.2 has no mj_getState).
    /// </summary>
    public Span<double> QaccWarmstart => new(Checked(_qaccWarmstart), _model.Nv);

    /// <summary>Generalized positions <c>[nq]</c>.</summary>
    public Span<double> Qpos => new(Checked(_qpos), _model.Nq);

    /// <summary>Generalized velocities <c>[nv]</c>.</summary>
    public Span<double> Qvel => new(Checked(_qvel), _model.Nv);

    /// <summary>Controls <c>[nu]</c>, applied by the next step (clamped to ctrlrange where limited).</summary>
    public Span<double> Ctrl => new(Checked(_ctrl), _model.Nu);

    /// <summary>Body frame positions <c>[nbody, 3]</c> as of the last forward pass (mj_step's runs before it integrates).</summary>
    public ReadOnlySpan<double> Xpos => new(Checked(_xpos), 3 * _model.Nbody);

    private nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>How many times <paramref name="warning"/> was raised since the last reset.</summary>
    public int WarningCount(MjWarning warning) =>
        *(int*)((byte*)Pointer + MjLayout.DataWarnings + (int)warning * MjLayout.WarningStatSize + MjLayout.WarningNumber);

    /// <summary>mj_resetData: qpos = qpos0, qvel = 0, ctrl = 0, time = 0, warnings cleared.</summary>
    public void Reset() => MuJoCo.mj_resetData(_model.Pointer, Pointer);

    /// <summary>mj_step: one timestep of the model's integrator.</summary>
    public void Step() => MuJoCo.mj_step(_model.Pointer, Pointer);

    /// <summary>mj_forward: every derived quantity for the current state, without integrating.</summary>
    public void Forward() => MuJoCo.mj_forward(_model.Pointer, Pointer);

    /// <summary>mj_kinematics: body positions and orientations (<see cref="Xpos"/>) for the current qpos only.</summary>
    public void Kinematics() => MuJoCo.mj_kinematics(_model.Pointer, Pointer);

    public void Dispose() => _handle.Dispose();

    private double* Checked(double* array)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return array;
    }

    private sealed class DataHandle : SafeHandle
    {
        public DataHandle(nint data) : base(0, ownsHandle: true) => SetHandle(data);

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            MuJoCo.mj_deleteData(handle);
            return true;
        }
    }
}
