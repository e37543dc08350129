"""Placeholder until the family module lands."""

import streamlit as st

st.title("diffusion")
st.info("This page is being built.")
