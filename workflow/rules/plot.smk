rule placeholder_plot:
    output: "never_plot"
    shell: "true"
