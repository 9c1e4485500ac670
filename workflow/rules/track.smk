rule placeholder_track:
    output: "never_track"
    shell: "true"
