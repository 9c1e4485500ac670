# One plot job per sweep: importing Matplotlib costs about a second, so a single process
# draws the sweep's figures (every run in each; with repeats, every configuration's mean)
# and the two per-run figures of the best run, or of the config's plots.top_k best. A grid sweep gets the heatmap (rule plot); a random search's values form
# no grid, so its sweeps get every figure but the heatmap (rule plot_search): the parallel
# coordinates show its trials instead.
# In the report, figures are grouped by dataset (category) and model (subcategory); the
# per-run figures get their own subcategory "<model>: runs", one row per run, with a toggle
# between the learning curve and the model figure.
rule plot:
    input:
        split="data/{dataset}/split.npz",
        configs="results/{dataset}/{model}/configs.csv",
        best="results/{dataset}/{model}/best.json",
        baseline="results/{dataset}/{model}/baseline.json",
        manifests=shard_files("results/{dataset}/{model}/shards/{shard}.json"),
    output:
        heatmap=report(
            "results/{dataset}/{model}/plots/heatmap.png",
            caption="../report/heatmap.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "1. validation metric over the grid"},
        ),
        learning_curves=report(
            "results/{dataset}/{model}/plots/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "2. learning curves of every run"},
        ),
        convergence=report(
            "results/{dataset}/{model}/plots/convergence.png",
            caption="../report/convergence.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "3. convergence to scikit-learn's optimum"},
        ),
        parallel_coordinates=report(
            "results/{dataset}/{model}/plots/parallel_coordinates.png",
            caption="../report/parallel_coordinates.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "5. every configuration: parallel coordinates"},
        ),
        importance=report(
            "results/{dataset}/{model}/plots/importance.png",
            caption="../report/importance.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "6. which hyperparameters matter"},
        ),
        # runs/<run name>/{learning_curve,model}.png; run names contain slashes, and
        # {run} in the pattern matches them (Snakemake globs it with ".+").
        runs=report(
            directory("results/{dataset}/{model}/plots/runs"),
            patterns=["{run}/{figure}.png"],
            caption="../report/run_figures.rst",
            category="{dataset}",
            subcategory="{model}: runs",
            labels={"run": "{run}", "figure": "{figure}"},
        ),
    log:
        "logs/plot/{dataset}/{model}.log",
    benchmark:
        benchmark_path("plot", "{dataset}", "{model}")
    wildcard_constraints:
        model=models_regex(lambda method: "heatmap.png" in method.figures),
    conda:
        ENV
    params:
        # code of the figures and the run names: an edit of gdlab.figures reruns only plots
        spec=lambda w: canonical_json(
            {
                "code": code_version("gdlab.figures.draw", REGISTRY[w.model].module),
                "runs": sweep_runs(w),
                "top_k": config["plots"]["top_k"],
                "drawn": G.drawn_axes(config["models"][w.model]),
            }
        ),
    script:
        "../scripts/plot.py"


use rule plot as plot_search with:
    output:
        learning_curves=report(
            "results/{dataset}/{model}/plots/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "2. learning curves of every run"},
        ),
        convergence=report(
            "results/{dataset}/{model}/plots/convergence.png",
            caption="../report/convergence.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "3. convergence to scikit-learn's optimum"},
        ),
        parallel_coordinates=report(
            "results/{dataset}/{model}/plots/parallel_coordinates.png",
            caption="../report/parallel_coordinates.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "1. every trial: parallel coordinates"},
        ),
        importance=report(
            "results/{dataset}/{model}/plots/importance.png",
            caption="../report/importance.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "6. which hyperparameters matter"},
        ),
        runs=report(
            directory("results/{dataset}/{model}/plots/runs"),
            patterns=["{run}/{figure}.png"],
            caption="../report/run_figures.rst",
            category="{dataset}",
            subcategory="{model}: runs",
            labels={"run": "{run}", "figure": "{figure}"},
        ),
    log:
        "logs/plot/{dataset}/{model}.log",
    benchmark:
        benchmark_path("plot_search", "{dataset}", "{model}")
    wildcard_constraints:
        model=models_regex(lambda method: "heatmap.png" not in method.figures),


# The lesson (a logistic-regression sweep over both losses): both losses from one saturated
# start, each loss's objective on a plane through weight space with both paths, and how
# long each loss stays on the plateau (gdlab.lesson; its numbers in lesson.json); beside
# it the optimizers' race and a 1-D cut of both losses (gdlab.figures.race).
rule lesson:
    input:
        split="data/{dataset}/split.npz",
        summary="results/{dataset}/{model}/summary.csv",
        baseline="results/{dataset}/{model}/baseline.json",
        manifests=shard_files("results/{dataset}/{model}/shards/{shard}.json"),
    output:
        figure=report(
            "results/{dataset}/{model}/plots/loss_landscape.png",
            caption="../report/loss_landscape.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "4. log loss against MSE on the sigmoid"},
        ),
        race=report(
            "results/{dataset}/{model}/plots/optimizer_race.png",
            caption="../report/optimizer_race.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "4a. what fit() runs: the optimizers' race"},
        ),
        cut=report(
            "results/{dataset}/{model}/plots/lesson_closer.png",
            caption="../report/lesson_closer.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"figure": "4b. the lesson, closer: one cut of both losses"},
        ),
        record="results/{dataset}/{model}/lesson.json",
    log:
        "logs/lesson/{dataset}/{model}.log",
    benchmark:
        benchmark_path("lesson", "{dataset}", "{model}")
    conda:
        ENV
    params:
        spec=lambda w: canonical_json(
            {
                "code": code_version("gdlab.figures.draw", "gdlab.models.logistic_regression"),
                "runs": sweep_runs(w),
            }
        ),
    script:
        "../scripts/lesson.py"
