using System.Runtime.InteropServices;

namespace RewardedSoups.Tasks.Locomotion;

/// <summary>
/// A compiled MuJoCo model (mjModel), loaded from an MJCF file. Sizes and the timestep are read once at
/// load; arrays are views of the native model, valid until <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class MjModel : IDisposable
{
    private readonly ModelHandle _handle;

    private MjModel(ModelHandle handle, string path)
    {
        _handle = handle;
        Path = path;
        byte* m = (byte*)handle.DangerousGetHandle();
        Nq = *(int*)(m + MjLayout.ModelNq);
        Nv = *(int*)(m + MjLayout.ModelNv);
        Nu = *(int*)(m + MjLayout.ModelNu);
        Na = *(int*)(m + MjLayout.ModelNa);
        Nbody = *(int*)(m + MjLayout.ModelNbody);
        Timestep = *(double*)(m + MjLayout.ModelTimestep);
    }

    /// <summary>The MJCF file it was loaded from.</summary>
    public string Path { get; }

    /// <summary>Number of generalized coordinates, dim(qpos).</summary>
    public int Nq { get; }

    /// <summary>Number of degrees of freedom, dim(qvel).</summary>
    public int Nv { get; }

    /// <summary>Number of actuators, dim(ctrl).</summary>
    public int Nu { get; }

    /// <summary>Number of actuator activations, dim(act) (0 for plain motors).</summary>
    public int Na { get; }

    /// <summary>Number of bodies, including the world (body 0).</summary>
    public int Nbody { get; }

    /// <summary>Physics timestep in seconds (opt.timestep).</summary>
    public double Timestep { get; }

    /// <summary>Default pose <c>[nq]</c>: what mj_resetData puts in qpos.</summary>
    public ReadOnlySpan<double> Qpos0 => new(Array<double>(MjLayout.ModelQpos0), Nq);

    /// <summary>Each body's parent body id (the world, body 0, is its own parent).</summary>
    public ReadOnlySpan<int> BodyParentIds => new(Array<int>(MjLayout.ModelBodyParentId), Nbody);

    /// <summary>Control ranges <c>[nu, 2]</c> (low, high); meaningful where <see cref="IsCtrlLimited"/>.</summary>
    public ReadOnlySpan<double> ActuatorCtrlRange => new(Array<double>(MjLayout.ModelActuatorCtrlRange), 2 * Nu);

    internal nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>
    /// Loads and compiles an MJCF file. A missing file, or one MuJoCo rejects, is a
    /// <see cref="SoupInputException"/> naming the file and carrying MuJoCo's own error text.
    /// </summary>
    public static MjModel Load(string path)
    {
        MuJoCo.EnsureLoaded();
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new SoupInputException($"model '{path}': file not found");
        nint model = MuJoCo.LoadXml(full, out string error);
        if (model == 0)
        {
            // MuJoCo's text spans lines ("Error: ...\nObject name = ..., line = 3, column = 5"); ours is one line.
            string oneLine = string.Join("; ", error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            throw new SoupInputException($"model '{path}': MuJoCo cannot load it: {oneLine}");
        }
        return new MjModel(new ModelHandle(model), full);
    }

    /// <summary>Whether actuator <paramref name="actuator"/> clamps its control to its range (ctrllimited).</summary>
    public bool IsCtrlLimited(int actuator)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(actuator);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(actuator, Nu);
        return Array<byte>(MjLayout.ModelActuatorCtrlLimited)[actuator] != 0;
    }

    /// <summary>Id of the body named <paramref name="name"/>, or -1.</summary>
    public int BodyId(string name) => MuJoCo.mj_name2id(Pointer, MuJoCo.ObjectBody, name);

    /// <summary>Name of body <paramref name="id"/> (empty when unnamed; the world is "world").</summary>
    public string BodyName(int id) => Name(MuJoCo.ObjectBody, id, Nbody);

    /// <summary>Name of actuator <paramref name="id"/> (empty when unnamed).</summary>
    public string ActuatorName(int id) => Name(MuJoCo.ObjectActuator, id, Nu);

    public void Dispose() => _handle.Dispose();

    private string Name(int type, int id, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, count);
        return Marshal.PtrToStringUTF8((nint)MuJoCo.mj_id2name(Pointer, type, id)) ?? "";
    }

    // The model's arrays live in one native buffer, fixed for the model's lifetime.
    private T* Array<T>(int offset) where T : unmanaged => *(T**)((byte*)Pointer + offset);

    private sealed class ModelHandle : SafeHandle
    {
        public ModelHandle(nint model) : base(0, ownsHandle: true) => SetHandle(model);

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            MuJoCo.mj_deleteModel(handle);
            return true;
        }
    }
}
