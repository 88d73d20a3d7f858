using RewardedSoups.Environments;

namespace RewardedSoups.Tasks.Locomotion;

/// <summary>
/// N instances of one MuJoCo robot (one mjData each, one shared mjModel), stepped one after another
/// inside <see cref="Step"/>, which allocates nothing.
///
/// Observation <c>[obs]</c>: qpos without its first <see cref="LocomotionTask.HiddenPositions"/>
/// entries (the root's x, and y in 3-D), then qvel; float32.
/// Action <c>[act]</c>: one value per actuator, clipped to [-1, 1] and mapped linearly onto the
/// actuator's ctrlrange (−1 → low, 1 → high); the same control is held for FrameSkip timesteps.
///
/// Reward terms, per step (dt = FrameSkip × timestep; x, y: the root's position):
/// <list type="bullet">
/// <item><c>forward_velocity</c>: (x after − x before) / dt, in m/s.</item>
/// <item><c>control_cost</c>: Σ a² over the clipped actions in [-1, 1], unweighted.</item>
/// <item><c>alive</c>: 1 if the robot is healthy after the step, else 0. The cheetah has no unhealthy
/// states (it may flip and keep going), so for it this is always 1.</item>
/// <item><c>height</c>: the torso's height after the step, in m.</item>
/// <item><c>lateral_velocity</c> (3-D robots only): (y after − y before) / dt, in m/s.</item>
/// </list>
///
/// Episodes end by termination (left the healthy set, for robots that can fall) or truncation (at
/// <see cref="MaxEpisodeSteps"/>, or on an invalid simulation: a non-finite action, a non-finite
/// state, or a MuJoCo bad-qpos/qvel/qacc/ctrl warning). An invalid step writes zero reward terms,
/// keeps the last valid observation as the final one and counts in <see cref="InvalidEpisodes"/>.
/// Ended instances are reset at once: qpos = qpos0 + U(−s, s), qvel = s·N(0, 1) with the task's
/// <see cref="LocomotionTask.ResetNoise"/> s, drawn from instance i's stream of (seed, i).
/// </summary>
public sealed class LocomotionEnv : IRecordableEnv, IResumableEnv
{
    private const int ForwardVelocity = 0;
    private const int ControlCost = 1;
    private const int Alive = 2;
    private const int Height = 3;
    private const int LateralVelocity = 4;

    private static readonly IReadOnlyList<string> PlanarTerms = ["forward_velocity", "control_cost", "alive", "height"];
    private static readonly IReadOnlyList<string> SpatialTerms = ["forward_velocity", "control_cost", "alive", "height", "lateral_velocity"];

    private readonly MjModel _model;
    private readonly MjData[] _data;
    private readonly NoiseStream[] _noise;      // [envs]
    private readonly int[] _episodeSteps;       // [envs]
    private readonly float[] _observations;     // [envs, obs]
    private readonly float[] _finalObservations; // [envs, obs]
    private readonly double[] _ctrlMid;         // [act]
    private readonly double[] _ctrlHalfRange;   // [act]
    private readonly IReadOnlyList<string> _bodyNames; // [nbody]
    private readonly int[] _bodyParents;               // [nbody]
    private readonly bool _spatial;
    private readonly bool _terminates;
    private long _invalidEpisodes;
    private bool _disposed;

    /// <summary>Loads the task's model, makes <paramref name="numEnvs"/> instances and resets them with seed 0.</summary>
    public LocomotionEnv(LocomotionTask task, int numEnvs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numEnvs, 1);
        if (task.FrameSkip < 1) throw new SoupInputException($"task '{task.Name}': frame skip must be at least 1, got {task.FrameSkip}");
        if (task.MaxEpisodeSteps < 1) throw new SoupInputException($"task '{task.Name}': episode length must be at least 1 step, got {task.MaxEpisodeSteps}");
        if (task.HiddenPositions is < 1 or > 2) throw new SoupInputException($"task '{task.Name}': hidden positions must be 1 (planar) or 2 (3-D), got {task.HiddenPositions}");
        Task = task;
        _model = MjModel.Load(task.ModelPath);
        var data = new MjData[numEnvs];
        bool built = false;
        try
        {
            Validate(task, _model);
            for (int i = 0; i < numEnvs; i++) data[i] = new MjData(_model);
            built = true;
        }
        finally
        {
            if (!built)
            {
                foreach (MjData? d in data) d?.Dispose();
                _model.Dispose();
            }
        }
        _data = data;
        _spatial = task.HiddenPositions == 2;
        NumEnvs = numEnvs;
        ActionSize = _model.Nu;
        ObservationSize = _model.Nq - task.HiddenPositions + _model.Nv;
        Dt = task.FrameSkip * _model.Timestep;

        _ctrlMid = new double[ActionSize];
        _ctrlHalfRange = new double[ActionSize];
        ReadOnlySpan<double> range = _model.ActuatorCtrlRange; // [act, 2]
        for (int j = 0; j < ActionSize; j++)
        {
            _ctrlMid[j] = 0.5 * (range[2 * j] + range[2 * j + 1]);
            _ctrlHalfRange[j] = 0.5 * (range[2 * j + 1] - range[2 * j]);
        }
        var bodyNames = new string[_model.Nbody];
        for (int b = 0; b < bodyNames.Length; b++) bodyNames[b] = _model.BodyName(b);
        _bodyNames = bodyNames.AsReadOnly();
        _bodyParents = _model.BodyParentIds.ToArray();
        _terminates = task.TerminatesWhenUnhealthy;

        _noise = new NoiseStream[numEnvs];
        _episodeSteps = new int[numEnvs];
        _observations = new float[numEnvs * ObservationSize];
        _finalObservations = new float[numEnvs * ObservationSize];
        Reset(seed: 0);
    }

    public LocomotionTask Task { get; }

    public string Name => Task.Name;

    public int NumEnvs { get; }

    public int ObservationSize { get; }

    public int ActionSize { get; }

    public IReadOnlyList<string> RewardTerms => _spatial ? SpatialTerms : PlanarTerms;

    public int MaxEpisodeSteps => Task.MaxEpisodeSteps;

    /// <summary>Seconds of simulated time per step: FrameSkip × timestep.</summary>
    public double Dt { get; }

    public ReadOnlySpan<float> Observations => _observations;

    public ReadOnlySpan<float> FinalObservations => _finalObservations;

    public long InvalidEpisodes => _invalidEpisodes;

    /// <summary>Body names <c>[nbody]</c> by body id; body 0 is the world.</summary>
    public IReadOnlyList<string> BodyNames => _bodyNames;

    public IReadOnlyList<int> BodyParents => _bodyParents;

    public void Reset(int seed)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (int i = 0; i < NumEnvs; i++)
        {
            _noise[i] = new NoiseStream(seed, i);
            ResetInstance(i);
        }
    }

    public void Step(ReadOnlySpan<float> actions, Span<float> rewardTerms, Span<bool> terminated, Span<bool> truncated)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int termCount = RewardTerms.Count;
        if (actions.Length != NumEnvs * ActionSize) throw new ArgumentException($"actions: expected [{NumEnvs}, {ActionSize}], got {actions.Length} values", nameof(actions));
        if (rewardTerms.Length != NumEnvs * termCount) throw new ArgumentException($"rewardTerms: expected [{NumEnvs}, {termCount}], got {rewardTerms.Length} values", nameof(rewardTerms));
        if (terminated.Length != NumEnvs) throw new ArgumentException($"terminated: expected {NumEnvs} values, got {terminated.Length}", nameof(terminated));
        if (truncated.Length != NumEnvs) throw new ArgumentException($"truncated: expected {NumEnvs} values, got {truncated.Length}", nameof(truncated));

        for (int i = 0; i < NumEnvs; i++)
        {
            ReadOnlySpan<float> action = actions.Slice(i * ActionSize, ActionSize); // [act]
            Span<float> terms = rewardTerms.Slice(i * termCount, termCount);      // [terms]
            MjData data = _data[i];
            terminated[i] = false;
            truncated[i] = false;

            if (!StepInstance(data, action, terms))
            {
                // Invalid simulation: end the episode as a truncation from the last valid observation.
                terms.Clear();
                truncated[i] = true;
                _invalidEpisodes++;
                EndEpisode(i);
                continue;
            }

            Observe(data, _observations.AsSpan(i * ObservationSize, ObservationSize));
            _episodeSteps[i]++;
            terminated[i] = _terminates && terms[Alive] == 0;
            // A step that both terminates and hits the limit counts as terminated: there is nothing to bootstrap.
            truncated[i] = !terminated[i] && _episodeSteps[i] >= Task.MaxEpisodeSteps;
            if (terminated[i] || truncated[i]) EndEpisode(i);
        }
    }

    /// <summary>Per instance: time, qpos, qvel, act, qacc_warmstart.</summary>
    private int RealsPerInstance => 1 + _model.Nq + 2 * _model.Nv + _model.Na;

    /// <summary>
    /// Reals: per instance [time, qpos (nq), qvel (nv), act (na), qacc_warmstart (nv)]; integers: per instance
    /// [noise stream state, episode steps], then the invalid-episode count. Observations are recomputed from
    /// the state on restore (they are a function of qpos and qvel).
    /// </summary>
    public EnvState CaptureState()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int per = RealsPerInstance;
        var reals = new double[NumEnvs * per];
        var integers = new long[2 * NumEnvs + 1];
        for (int i = 0; i < NumEnvs; i++)
        {
            MjData d = _data[i];
            Span<double> row = reals.AsSpan(i * per, per);
            row[0] = d.Time;
            int at = 1;
            d.Qpos.CopyTo(row[at..]); at += _model.Nq;
            d.Qvel.CopyTo(row[at..]); at += _model.Nv;
            d.Act.CopyTo(row[at..]); at += _model.Na;
            d.QaccWarmstart.CopyTo(row[at..]);
            integers[2 * i] = unchecked((long)_noise[i].State);
            integers[2 * i + 1] = _episodeSteps[i];
        }
        integers[^1] = _invalidEpisodes;
        return new EnvState(reals, integers);
    }

    public void RestoreState(EnvState state)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int per = RealsPerInstance;
        if (state.Reals.Length != NumEnvs * per)
            throw new ArgumentException($"environment state: {state.Reals.Length} reals, task '{Name}' with {NumEnvs} instances has {NumEnvs * per}", nameof(state));
        if (state.Integers.Length != 2 * NumEnvs + 1)
            throw new ArgumentException($"environment state: {state.Integers.Length} integers, task '{Name}' with {NumEnvs} instances has {2 * NumEnvs + 1}", nameof(state));
        for (int i = 0; i < NumEnvs; i++)
        {
            MjData d = _data[i];
            d.Reset();   // clears warnings and derived quantities; the state below is all the next step reads
            ReadOnlySpan<double> row = state.Reals.AsSpan(i * per, per);
            d.Time = row[0];
            int at = 1;
            row.Slice(at, _model.Nq).CopyTo(d.Qpos); at += _model.Nq;
            row.Slice(at, _model.Nv).CopyTo(d.Qvel); at += _model.Nv;
            row.Slice(at, _model.Na).CopyTo(d.Act); at += _model.Na;
            row.Slice(at, _model.Nv).CopyTo(d.QaccWarmstart);
            _noise[i] = NoiseStream.FromState(unchecked((ulong)state.Integers[2 * i]));
            _episodeSteps[i] = (int)state.Integers[2 * i + 1];
            Observe(d, _observations.AsSpan(i * ObservationSize, ObservationSize));
        }
        _invalidEpisodes = state.Integers[^1];
    }

    /// <summary>
    /// Writes the body positions <c>[nbody, 3]</c> of instance <paramref name="instance"/> (x, y, z per
    /// body, in <see cref="BodyNames"/> order) for its current state: for recording a trajectory.
    /// </summary>
    public void ReadBodyPositions(int instance, Span<double> positions)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(instance);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(instance, NumEnvs);
        if (positions.Length != 3 * _model.Nbody) throw new ArgumentException($"positions: expected [{_model.Nbody}, 3], got {positions.Length} values", nameof(positions));
        MjData data = _data[instance];
        // xpos after mj_step belongs to the state before its last integration; recompute it for the
        // current qpos. Kinematics writes only derived quantities, so the trajectory is unchanged.
        data.Kinematics();
        data.Xpos.CopyTo(positions);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (MjData data in _data) data.Dispose();
        _model.Dispose();
    }

    internal MjData DataOf(int instance) => _data[instance];

    /// <summary>Applies one action for FrameSkip timesteps and writes the reward terms; false if the simulation became invalid.</summary>
    private bool StepInstance(MjData data, ReadOnlySpan<float> action, Span<float> terms)
    {
        Span<double> ctrl = data.Ctrl; // [act]
        double controlCost = 0;
        for (int j = 0; j < action.Length; j++)
        {
            float a = action[j];
            if (!float.IsFinite(a)) return false;
            a = Math.Clamp(a, -1f, 1f);
            controlCost += a * a;
            ctrl[j] = _ctrlMid[j] + _ctrlHalfRange[j] * a;
        }

        Span<double> qpos = data.Qpos; // [nq]
        Span<double> qvel = data.Qvel; // [nv]
        double x0 = qpos[0];
        double y0 = qpos[1];
        for (int k = 0; k < Task.FrameSkip; k++) data.Step();

        // MuJoCo resets a diverged instance by itself and only counts a warning, so the state alone
        // can look fine after a blow-up: check both.
        if (data.WarningCount(MjWarning.BadQpos) != 0 || data.WarningCount(MjWarning.BadQvel) != 0 ||
            data.WarningCount(MjWarning.BadQacc) != 0 || data.WarningCount(MjWarning.BadCtrl) != 0 ||
            !AllFinite(qpos) || !AllFinite(qvel))
            return false;

        terms[ForwardVelocity] = (float)((qpos[0] - x0) / Dt);
        terms[ControlCost] = (float)controlCost;
        terms[Alive] = IsHealthy(qpos, qvel) ? 1f : 0f;
        terms[Height] = (float)qpos[Task.HeightIndex];
        if (_spatial) terms[LateralVelocity] = (float)((qpos[1] - y0) / Dt);
        return true;
    }

    private bool IsHealthy(ReadOnlySpan<double> qpos, ReadOnlySpan<double> qvel)
    {
        double z = qpos[Task.HeightIndex];
        if (z < Task.MinHeight || z > Task.MaxHeight) return false;
        if (Task.PitchIndex >= 0 && Math.Abs(qpos[Task.PitchIndex]) > Task.MaxPitch) return false;
        double bound = Task.MaxStateMagnitude;
        if (double.IsFinite(bound))
        {
            foreach (double q in qpos[(Task.HeightIndex + 1)..])
                if (Math.Abs(q) > bound) return false;
            foreach (double v in qvel)
                if (Math.Abs(v) > bound) return false;
        }
        return true;
    }

    private void EndEpisode(int i)
    {
        Span<float> current = _observations.AsSpan(i * ObservationSize, ObservationSize);
        current.CopyTo(_finalObservations.AsSpan(i * ObservationSize, ObservationSize));
        ResetInstance(i);
    }

    private void ResetInstance(int i)
    {
        MjData data = _data[i];
        data.Reset();
        ref NoiseStream noise = ref _noise[i];
        double s = Task.ResetNoise;
        Span<double> qpos = data.Qpos;
        for (int k = 0; k < qpos.Length; k++) qpos[k] += s * noise.NextSymmetric();
        Span<double> qvel = data.Qvel;
        for (int k = 0; k < qvel.Length; k++) qvel[k] = s * noise.NextGaussian();
        _episodeSteps[i] = 0;
        Observe(data, _observations.AsSpan(i * ObservationSize, ObservationSize));
    }

    private void Observe(MjData data, Span<float> row)
    {
        ReadOnlySpan<double> positions = data.Qpos[Task.HiddenPositions..];
        ReadOnlySpan<double> velocities = data.Qvel;
        for (int k = 0; k < positions.Length; k++) row[k] = (float)positions[k];
        Span<float> rest = row[positions.Length..];
        for (int k = 0; k < velocities.Length; k++) rest[k] = (float)velocities[k];
    }

    private static bool AllFinite(ReadOnlySpan<double> values)
    {
        foreach (double v in values)
            if (!double.IsFinite(v)) return false;
        return true;
    }

    private static void Validate(LocomotionTask task, MjModel model)
    {
        string file = Path.GetFileName(model.Path);
        if (model.Nu < 1) throw new SoupInputException($"model '{file}' of task '{task.Name}': it has no actuators");
        if (model.Nq <= task.HiddenPositions || model.Nq < 2)
            throw new SoupInputException($"model '{file}' of task '{task.Name}': qpos has {model.Nq} entries, too few for a root position");
        if (task.HeightIndex < 0 || task.HeightIndex >= model.Nq || task.PitchIndex >= model.Nq)
            throw new SoupInputException($"model '{file}' of task '{task.Name}': height index {task.HeightIndex} or pitch index {task.PitchIndex} is outside qpos [{model.Nq}]");
        for (int j = 0; j < model.Nu; j++)
        {
            ReadOnlySpan<double> range = model.ActuatorCtrlRange.Slice(2 * j, 2);
            if (!model.IsCtrlLimited(j) || !(range[0] < range[1]))
                throw new SoupInputException($"model '{file}' of task '{task.Name}': actuator '{model.ActuatorName(j)}' has no ctrlrange; actions in [-1, 1] are mapped onto it");
        }
    }
}
